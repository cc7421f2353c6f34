import { GraphQLSafeInt } from 'graphql-scalars';
import { Field, ObjectType, registerEnumType } from 'type-graphql';
import type { InstallStatus } from '../hub/install-jobs.ts';

export enum InstallState {
  RUNNING = 'RUNNING',
  DONE = 'DONE',
  FAILED = 'FAILED',
}
registerEnumType(InstallState, {
  name: 'InstallState',
  description: 'Where an install from the API is.',
  valuesConfig: {
    RUNNING: { description: 'Downloading or converting.' },
    DONE: { description: 'Installed and taken by the registry: the variant serves.' },
    FAILED: { description: 'Stopped (see `error`); installModel again resumes the download.' },
  },
});

export enum InstallPhase {
  RESOLVING = 'RESOLVING',
  DOWNLOADING = 'DOWNLOADING',
  CONVERTING = 'CONVERTING',
  DONE = 'DONE',
  FAILED = 'FAILED',
}
registerEnumType(InstallPhase, { name: 'InstallPhase', description: 'The step an install is at.' });

export enum Precision {
  FP32 = 'FP32',
  INT8 = 'INT8',
}
registerEnumType(Precision, { name: 'Precision', description: 'Weight precision of a converted variant.' });

@ObjectType('ModelInstall', { description: 'Progress of an install from the Hugging Face Hub started through the API.' })
export class ModelInstall {
  @Field(() => InstallState)
  state!: InstallState;

  @Field(() => InstallPhase)
  phase!: InstallPhase;

  @Field(() => GraphQLSafeInt, { description: "Bytes of the checkpoint's files present so far (cached ones count at once)." })
  bytesDone!: number;

  @Field(() => GraphQLSafeInt, { description: 'Bytes of the files to download (0 until they are listed).' })
  bytesTotal!: number;

  @Field(() => String, { nullable: true, description: 'Why it failed: `KIND: message`, e.g. `UNAUTHORIZED: … set HF_TOKEN`.' })
  error!: string | null;

  @Field(() => String, { nullable: true, description: 'The 40-character commit being installed, once resolved.' })
  revision!: string | null;
}

export function toModelInstall(status: InstallStatus, redact: (message: string) => string): ModelInstall {
  return {
    state: status.state === 'running' ? InstallState.RUNNING : status.state === 'done' ? InstallState.DONE : InstallState.FAILED,
    phase: status.phase.toUpperCase() as InstallPhase,
    bytesDone: status.bytesDone,
    bytesTotal: status.bytesTotal,
    error: status.error === null ? null : redact(status.error),
    revision: status.revision,
  };
}
