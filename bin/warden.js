#!/usr/bin/env node
// The `warden` command: the compiled CLI does the work (npm run build compiles src/ into dist/).
import '../dist/src/cli/main.js';
