import 'reflect-metadata';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger } from './logger.js';
import { redact } from './redact.js';
import { startService } from './service.js';

/** Checks the data directory can be created and written, when the configuration uses it. */
function checkDataDir(config: Config): void {
  if (config.database.kind !== 'sqlite' && config.cloud.kind !== 'simulator') return;
  try {
    mkdirSync(config.dataDir, { recursive: true });
    accessSync(config.dataDir, constants.W_OK);
  } catch (error) {
    throw new ConfigError('DATA_DIR', `${config.dataDir} cannot be created or written (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** Start-up failures that are really configuration problems, named after their variable. */
function asConfigError(error: unknown, config: Config): ConfigError | undefined {
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code === 'EADDRINUSE') return new ConfigError('PORT', `${config.port} is already in use on ${config.host}`);
  if (code === 'EACCES' && (error as { syscall?: string }).syscall === 'listen')
    return new ConfigError('PORT', `${config.port} needs privileges this process does not have`);
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') return new ConfigError('HOST', `${config.host} is not an address of this machine`);
  return undefined;
}

/** One line, with no secret of the configuration in it. */
function oneLine(error: unknown, config: Config | undefined): string {
  const text = error instanceof Error ? error.message : String(error);
  const cloudSecrets = config?.cloud.kind === 'remote' ? [config.cloud.apiKey, config.cloud.secretKey] : [];
  const line = redact(text, config?.database.kind === 'mariadb' ? config.database.url : undefined, cloudSecrets);
  return config?.engine.eventRedis ? redact(line, config.engine.eventRedis.url) : line;
}

function exit(code: number, line: string): never {
  process.stderr.write(`failover-api: ${line}\n`);
  process.exit(code);
}

async function main(): Promise<void> {
  let config: Config | undefined;
  try {
    config = loadConfig();
    checkDataDir(config);
  } catch (error) {
    if (error instanceof ConfigError) exit(2, `configuration error: ${error.message}`);
    throw error;
  }
  const logger = createLogger({ level: config.logLevel });
  const database = config.database.kind === 'mariadb' ? config.database.redactedUrl : `sqlite:${config.database.file}`;
  let service;
  try {
    service = await startService(config, logger);
  } catch (error) {
    const named = asConfigError(error, config);
    if (named) exit(2, `configuration error: ${named.message}`);
    exit(1, `failed to start: ${oneLine(error, config)}`);
  }
  const events = config.engine.eventRedis ? `redis wake-ups (${config.engine.eventRedis.redactedUrl})` : 'polling';
  logger.info({ url: service.url, database, cloud: config.cloud.kind, events }, `failover-api listening on ${service.url}`);

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: draining HTTP and WebSocket');
    service.stop().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => exit(1, `failed to start: ${oneLine(error, undefined)}`));
