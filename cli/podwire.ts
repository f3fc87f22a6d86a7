#!/usr/bin/env node
// The `podwire` command (package.json bin). All the work is in main.ts.
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2));
