/**
 * A small Dockerfile reader for tests (Docker cannot run on the test machines): instructions with line continuations
 * joined and comments dropped, global ARG defaults, and the stages with their names and base images.
 */
export interface DockerInstruction {
  keyword: string;
  /** Everything after the keyword, continuation lines joined with a space. */
  args: string;
}

export interface DockerStage {
  name: string | undefined;
  /** The base image, with global ARGs substituted (or the name of an earlier stage). */
  base: string;
  instructions: DockerInstruction[];
}

export interface Dockerfile {
  /** ARGs declared before the first FROM, with their defaults. */
  args: Record<string, string>;
  stages: DockerStage[];
}

export function parseDockerfile(text: string): Dockerfile {
  const instructions: DockerInstruction[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || (line === '' && pending === '')) continue;
    const continued = line.endsWith('\\');
    pending += `${pending === '' ? '' : ' '}${continued ? line.slice(0, -1).trim() : line}`;
    if (continued) continue;
    const match = /^(\w+)\s+(.*)$/s.exec(pending);
    if (!match) throw new Error(`not an instruction: ${pending}`);
    instructions.push({ keyword: match[1]!.toUpperCase(), args: match[2]!.trim() });
    pending = '';
  }
  if (pending !== '') throw new Error(`the Dockerfile ends inside a continued line: ${pending}`);

  const args: Record<string, string> = {};
  const stages: DockerStage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      if (!from) throw new Error(`FROM ${instruction.args}: expected an image and an optional AS name`);
      const base = from[1]!.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => {
        const name = (a ?? b)!;
        if (!(name in args)) throw new Error(`FROM uses ${name}, which no global ARG declares`);
        return args[name]!;
      });
      stages.push({ name: from[2], base, instructions: [] });
    } else if (stages.length === 0) {
      if (instruction.keyword !== 'ARG') throw new Error(`${instruction.keyword} before the first FROM`);
      const [name, value = ''] = instruction.args.split('=', 2);
      args[name!] = value;
    } else {
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return { args, stages };
}

/** The command of an exec-form RUN or CMD (`["node", "x"]`); throws for the shell form. */
export function execForm(instruction: DockerInstruction): string[] {
  if (!instruction.args.startsWith('[')) throw new Error(`${instruction.keyword} ${instruction.args}: expected the exec (JSON array) form`);
  return JSON.parse(instruction.args) as string[];
}
