#!/usr/bin/env node
// The `razer` command: quantize, inspect and measure safetensors checkpoints,
// a demo, and a GPU benchmark. Each sub-command lives in lib/cli/<name>.ts.

import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { benchCommand } from './cli/bench.js';
import { demoCommand } from './cli/demo.js';
import { errorCommand } from './cli/error.js';
import { reportFailure } from './cli/fail.js';
import { inspectCommand } from './cli/inspect.js';
import { quantizeCommand } from './cli/quantize.js';

function packageVersion(): string {
  // dist/lib/cli.js and lib/cli.ts both sit two levels below package.json.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function buildProgram(): Command {
  const program = new Command('razer')
    .description('NVFP4 / RaZeR 4-bit quantization of safetensors checkpoints')
    .version(packageVersion())
    .showSuggestionAfterError()
    .addHelpText('after', '\nStart with `razer demo` to see the formats compared on synthetic weights.');
  for (const cmd of [quantizeCommand(), inspectCommand(), errorCommand(), demoCommand(), benchCommand()]) {
    program.addCommand(cmd);
  }
  // Throw instead of exiting, and print commander's own errors in our one-line form.
  const configure = (cmd: Command) => {
    cmd.exitOverride().configureOutput({
      outputError: (str, write) => write(`razer: ${str.replace(/^error: /, '').trimEnd().replace(/\s*\n\s*/g, ' ')}\n`),
    });
    cmd.commands.forEach(configure);
  };
  configure(program);
  return program;
}

async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // Already printed by commander (help, version, or a usage error).
      process.exitCode = e.exitCode;
      return;
    }
    reportFailure(e);
  }
}

await main(process.argv);
