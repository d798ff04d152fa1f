import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SimWorld } from './simulator.state.js';

/**
 * Keeps the simulated cloud in a JSON file so that a restarted service finds it as it left it.
 * Every write is atomic: the whole world goes to a temporary file in the same directory, which is
 * then renamed over the old one — a crash leaves either the old or the new file, never half of one.
 */

/** Thrown when a state file exists but cannot be used. */
export class StateFileError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`simulator state file ${file}: ${reason}`);
    this.name = 'StateFileError';
  }
}

/** Reads a state file; undefined when there is none. */
export function loadWorld(file: string): SimWorld | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StateFileError(file, (error as Error).message);
  }
  let world: SimWorld;
  try {
    world = JSON.parse(text) as SimWorld;
  } catch {
    throw new StateFileError(file, 'is not valid JSON');
  }
  if (world?.version !== 1 || !Array.isArray(world.vms) || !Array.isArray(world.volumes)) {
    throw new StateFileError(file, 'is not a simulator state (version 1)');
  }
  return world;
}

let sequence = 0;

/** Writes the world atomically (temporary file + rename). */
export function saveWorld(file: string, world: SimWorld): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${++sequence}.tmp`;
  try {
    writeFileSync(tmp, `${JSON.stringify(world, null, 2)}\n`, { encoding: 'utf8', mode: 0o600 });
    renameSync(tmp, file);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
}
