/**
 * How `npm start` shows the functions' logs. The handlers log as in Lambda: one JSON object a line (Powertools), two of
 * them a minute even while idle (every metering and final-metering run), which buries the banner. By default
 * (`LOG_FORMAT=summary`) each log line becomes one short human line, or none when it reports that nothing happened
 * (a run with nothing due, a sweep that closed nothing); warnings and errors are always shown. `LOG_FORMAT=json` prints
 * the JSON lines unchanged, as CloudWatch would have them.
 */
import { LocalStackError } from './errors.ts';

export type LogFormat = 'summary' | 'json';

const LOG_FORMATS: readonly LogFormat[] = ['summary', 'json'];

export function logFormatFromEnvironment(): LogFormat {
  const text = process.env.LOG_FORMAT;
  if (text === undefined || text === '') return 'summary';
  if (!(LOG_FORMATS as readonly string[]).includes(text)) {
    throw new LocalStackError(`LOG_FORMAT must be one of ${LOG_FORMATS.join(', ')}, not "${text}"`);
  }
  return text as LogFormat;
}

/** What to print for one line of output: the line itself when it is not a function's log line. */
export function summarizedLine(line: string): string | undefined {
  const record = logRecord(line);
  if (record === undefined) return line;
  const level = String(record.level);
  const service = typeof record.service === 'string' ? record.service : 'function';
  const message = String(record.message);
  const time = typeof record.timestamp === 'string' ? `${record.timestamp.slice(11, 19)} ` : '';
  if (level === 'DEBUG' || level === 'TRACE') return undefined;
  if (level !== 'INFO') return `${time}${service} ${level}: ${message}${details(record)}`;
  const summary = infoSummary(message, record);
  return summary === undefined ? undefined : `${time}${service}: ${summary}`;
}

/**
 * From now on, every function log line written to stdout or stderr is summarized (Powertools writes each one whole,
 * with one `write` of the line and its newline); anything else is written as it was.
 */
export function summarizeFunctionLogs(): void {
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    stream.write = (chunk: unknown, ...rest: unknown[]) => {
      if (typeof chunk !== 'string' || !chunk.startsWith('{') || !chunk.endsWith('\n')) return write(chunk, ...rest);
      const summary = summarizedLine(chunk.slice(0, -1));
      if (summary !== undefined) return write(`${summary}\n`, ...rest);
      // Nothing to print: the caller's callback, if any, still learns the write is done.
      const callback = rest.find((argument) => typeof argument === 'function') as (() => void) | undefined;
      if (callback !== undefined) process.nextTick(callback);
      return true;
    };
  }
}

type LogRecord = Record<string, unknown> & { level: unknown; message: unknown };

function logRecord(line: string): LogRecord | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const record = parsed as Record<string, unknown>;
    return typeof record.level === 'string' && typeof record.message === 'string' ? (record as LogRecord) : undefined;
  } catch {
    return undefined;
  }
}

interface RunSummary {
  readonly due?: number;
  readonly billed?: number;
  readonly zeroUsage?: number;
  readonly expired?: number;
  readonly pending?: number;
  readonly settledElsewhere?: number;
  readonly handOver?: boolean;
  readonly rejected?: Readonly<Record<string, number>>;
  readonly finalDeadlineMissed?: { readonly records?: number };
}

function infoSummary(message: string, record: LogRecord): string | undefined {
  switch (message) {
    case 'Metering run finished':
    case 'Final metering finished':
      return meteringSummary(message, record.summary as RunSummary | undefined, record.subscriberId);
    case 'Final-metering windows closed':
      return record.count === 0
        ? undefined
        : `closed ${String(record.count)} final-metering window(s): ${list(record.subscriberIds)}`;
    case 'Lifecycle notification applied':
      return `${String(record.notification)} for ${String(record.subscriberId)} (${String(record.outcome)})`;
    case 'Buyer arrived from Marketplace':
      return `buyer arrived: ${String(record.subscriberId)} (${String(record.productCode)}, ${String(record.offerType)})`;
    case 'Buyer registered':
      return `buyer registered: ${String(record.subscriberId)} (${String(record.outcome)})`;
    case 'Usage recorded':
      return `usage recorded: ${String(record.events)} event(s)${record.events === 0 ? '' : `, ${counts(record.outcomes)}`}`;
    default:
      return `${message}${details(record)}`;
  }
}

/** A run that found nothing due and did nothing says nothing. */
function meteringSummary(message: string, summary: RunSummary | undefined, subscriberId: unknown): string | undefined {
  if (summary === undefined) return message;
  const rejected = Object.values(summary.rejected ?? {}).reduce((sum, count) => sum + count, 0);
  const facts: [string, number][] = [
    ['due', summary.due ?? 0],
    ['billed', summary.billed ?? 0],
    ['zero-usage', summary.zeroUsage ?? 0],
    ['rejected', rejected],
    ['expired', summary.expired ?? 0],
    ['pending', summary.pending ?? 0],
    ['settled by another run', summary.settledElsewhere ?? 0],
    ['past the final deadline', summary.finalDeadlineMissed?.records ?? 0],
  ];
  const happened = facts.filter(([, count]) => count > 0);
  if (happened.length === 0 && summary.handOver !== true) return undefined;
  const who = typeof subscriberId === 'string' ? ` (${subscriberId})` : '';
  const rejections = rejected > 0 ? ` (rejected: ${counts(summary.rejected)})` : '';
  return `${message.toLowerCase()}${who}: ${happened.map(([name, count]) => `${count} ${name}`).join(', ')}${rejections}${summary.handOver === true ? ', handed over to the next run' : ''}`;
}

/** Standard Powertools keys, which say where a line came from rather than what happened. */
const CONTEXT_KEYS = new Set([
  'level',
  'message',
  'timestamp',
  'service',
  'cold_start',
  'function_arn',
  'function_memory_size',
  'function_name',
  'function_request_id',
  'sampling_rate',
  'xray_trace_id',
  'correlation_id',
]);

function details(record: LogRecord): string {
  const rest = Object.fromEntries(Object.entries(record).filter(([key]) => !CONTEXT_KEYS.has(key)));
  return Object.keys(rest).length === 0 ? '' : ` ${JSON.stringify(rest)}`;
}

function counts(value: unknown): string {
  if (typeof value !== 'object' || value === null) return String(value);
  return Object.entries(value)
    .map(([name, count]) => `${String(count)} ${name}`)
    .join(', ');
}

function list(value: unknown): string {
  return Array.isArray(value) ? value.map(String).join(', ') : String(value);
}
