#!/usr/bin/env node
// Thin launcher: the CLI is compiled from src/cli to dist/cli (npm install runs the build).
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
