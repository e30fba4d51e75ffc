// The `ann-seg` command line: one module per command, each with its own --help; this file only
// dispatches and turns usage errors into one line and exit status 2.
import { UsageError, type Command } from './args.js';
import { ablateCommand } from './ablate.js';
import { bench } from './bench/command.js';
import { evalCommand } from './eval.js';
import { info } from './info.js';
import { predictCommand } from './predict.js';
import { trainCommand } from './train.js';

const COMMANDS: Record<string, Command> = {
  train: trainCommand,
  ablate: ablateCommand,
  eval: evalCommand,
  predict: predictCommand,
  info,
  bench,
};

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: ann-seg <command> [options]

commands:
${lines.join('\n')}

ann-seg <command> --help shows a command's options.`;
}

export async function run(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    console.log(help());
    return 0;
  }
  const command = Object.hasOwn(COMMANDS, cmd) ? COMMANDS[cmd] : undefined;
  if (!command) {
    console.error(`ann-seg: unknown command '${cmd}'\n\n${help()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.help);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`ann-seg ${cmd}: ${err.message}`);
      return 2;
    }
    // A bad configuration (an impossible width, say) is the user's to fix, not a crash.
    if (err instanceof Error && err.message.startsWith('ANN config:')) {
      console.error(`ann-seg ${cmd}: ${err.message}`);
      return 2;
    }
    throw err;
  }
}
