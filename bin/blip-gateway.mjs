#!/usr/bin/env node
// The CLI is written in TypeScript and run through tsx's loader, so that the package needs no build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
