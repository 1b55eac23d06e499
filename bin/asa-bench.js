#!/usr/bin/env node
// Thin launcher: the CLI is compiled from src/cli to dist/cli (npm install runs the build).
// The Node version is checked first; the CLI is imported only after that check.
import './check-node.js';

// `asa-bench report … | head` closes stdout early: that is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

const { main } = await import('../dist/cli/main.js');
process.exitCode = await main(process.argv.slice(2));
