#!/usr/bin/env node
// The `podwire` command (package.json bin). All the work is in main.ts.
import { main } from './main.js';

// `podwire run x | head`: a closed pipe ends the output, not the process with a stack trace.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

process.exitCode = await main(process.argv.slice(2));
