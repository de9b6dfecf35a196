/**
 * Logs for a person: every component writes Cloud Logging JSON (one object per line); the launcher
 * turns each into one line prefixed with the component's name in its own colour (pino-pretty does
 * the line), errors with their stack below. Lines that are not JSON (PostgreSQL, functions-framework's
 * banner) pass through under the same prefix.
 */
import { styleText } from 'node:util';
import { prettyFactory } from 'pino-pretty';

export interface LogPrinterOptions {
  write: (text: string) => void;
  /** ANSI colours (a terminal that has not asked for NO_COLOR). */
  color: boolean;
  /** Width the component names are padded to. */
  width?: number;
}

export type LogPrinter = (component: string, line: string, stream?: 'stdout' | 'stderr') => void;

type Colour = Parameters<typeof styleText>[0];
const PALETTE: Colour[] = [
  'cyan',
  'magenta',
  'blue',
  'green',
  'yellow',
  'cyanBright',
  'magentaBright',
  'blueBright',
  'greenBright',
];

/** Whether to colour what goes to `stream`: a terminal, unless NO_COLOR or FORCE_COLOR=0 says not to. */
export function wantsColor(
  stream: { isTTY?: boolean },
  env: Readonly<Record<string, string | undefined>>,
): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== '0';
  return stream.isTTY === true;
}

export function createLogPrinter(options: LogPrinterOptions): LogPrinter {
  const width = options.width ?? 12;
  const style = (format: Colour, text: string) =>
    options.color ? styleText(format, text, { validateStream: false }) : text;
  const pretty = prettyFactory({
    colorize: options.color,
    levelKey: 'severity',
    messageKey: 'message',
    errorLikeObjectKeys: ['error', 'err'],
    customLevels: 'DEBUG:20,INFO:30,WARNING:40,ERROR:50,CRITICAL:60',
    customColors: 'DEBUG:gray,INFO:green,WARNING:yellow,ERROR:red,CRITICAL:bgRed',
    useOnlyCustomProps: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: [
      'service',
      'revision',
      '@type',
      'stack_trace',
      'logging\\.googleapis\\.com/trace',
      'logging\\.googleapis\\.com/spanId',
      'logging\\.googleapis\\.com/trace_sampled',
    ].join(','),
    singleLine: true,
  });
  const colours = new Map<string, Colour>();
  const prefixOf = (component: string) => {
    let colour = colours.get(component);
    if (!colour) {
      colour = PALETTE[colours.size % PALETTE.length]!;
      colours.set(component, colour);
    }
    return `${style(colour, component.padEnd(width))} ${style('gray', '│')} `;
  };

  return (component, line, stream = 'stdout') => {
    if (!line.trim()) return;
    const prefix = prefixOf(component);
    let formatted: string | undefined;
    if (line.startsWith('{')) {
      try {
        JSON.parse(line);
        formatted = pretty(line).replace(/\n+$/, '');
      } catch {
        formatted = undefined;
      }
    }
    formatted ??= stream === 'stderr' ? line : style('gray', line);
    options.write(
      `${formatted
        .split('\n')
        .map((text) => prefix + text)
        .join('\n')}\n`,
    );
  };
}
