import { GraphQLError, Kind, type ASTVisitor, type FragmentDefinitionNode, type OperationDefinitionNode, type SelectionSetNode, type ValidationContext, type ValidationRule } from 'graphql';
import { ErrorCode, ServiceError } from '../errors.ts';

export interface QueryLimits {
  /** Deepest selection: `{ models { batching { maxBatchSize } } }` has depth 3. */
  maxDepth: number;
  /** Most field selections, every alias and every use of a fragment counted. */
  maxFields: number;
}

/**
 * A validation rule that refuses operations nested deeper than `maxDepth` or selecting more than `maxFields` fields
 * (aliases are how one request asks for the same expensive field many times; fragments are expanded where they are
 * spread, so a fragment "bomb" is counted in full). Introspection (`__schema`, `__type`) counts as one field and is not
 * descended into: GraphQL tools send deep introspection queries. Refused operations get QUERY_TOO_COMPLEX.
 */
export function createQueryLimitsRule(limits: QueryLimits): ValidationRule {
  return function queryLimits(context: ValidationContext): ASTVisitor {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const definition of context.getDocument().definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
    }
    return {
      OperationDefinition(operation) {
        let fields = 0;
        let depth = 0;
        const over = () => fields > limits.maxFields || depth > limits.maxDepth;
        const walk = (selectionSet: SelectionSetNode, level: number, spreading: Set<string>): void => {
          for (const selection of selectionSet.selections) {
            if (over()) return;
            switch (selection.kind) {
              case Kind.FIELD:
                fields++;
                depth = Math.max(depth, level);
                if (selection.selectionSet && !selection.name.value.startsWith('__')) walk(selection.selectionSet, level + 1, spreading);
                break;
              case Kind.INLINE_FRAGMENT:
                walk(selection.selectionSet, level, spreading);
                break;
              case Kind.FRAGMENT_SPREAD: {
                const name = selection.name.value;
                const fragment = fragments.get(name);
                // Unknown fragments and cycles are reported by the standard rules.
                if (!fragment || spreading.has(name)) break;
                spreading.add(name);
                walk(fragment.selectionSet, level, spreading);
                spreading.delete(name);
                break;
              }
            }
          }
        };
        walk(operation.selectionSet, 1, new Set());
        if (depth > limits.maxDepth) {
          context.reportError(limitError(`The operation is nested deeper than the limit of ${limits.maxDepth} levels`, operation, { maxDepth: limits.maxDepth }));
        } else if (fields > limits.maxFields) {
          context.reportError(limitError(`The operation selects more than the limit of ${limits.maxFields} fields (aliases and fragment uses count each time)`, operation, { maxFields: limits.maxFields }));
        }
      },
    };
  };
}

// Private: the ServiceError rides along as originalError, so the error formatter gives it its code.
function limitError(message: string, node: OperationDefinitionNode, details: Record<string, unknown>): GraphQLError {
  return new GraphQLError(message, { nodes: [node], originalError: new ServiceError(ErrorCode.QUERY_TOO_COMPLEX, message, { details }) });
}
