/**
 * Content hashes of build artifacts. The build prints them and infra names what it deploys after
 * them (source object names, the API image tag), so a changed bundle redeploys and an unchanged
 * one does not.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** Hex SHA-256 of one file's bytes. */
export function hashFile(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** Hex SHA-256 over every file below `dir`: sorted relative paths and their contents. */
export function hashDirectory(dir: string): string {
  const hash = createHash('sha256');
  for (const relative of listFiles(dir)) {
    hash.update(`${relative}\0`);
    hash.update(
      createHash('sha256')
        .update(readFileSync(path.join(dir, relative)))
        .digest(),
    );
  }
  return hash.digest('hex');
}

/** Files below `dir`, as sorted POSIX paths relative to it. */
export function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'))
    .sort();
}

/** The short form used in names and tags. */
export const shortHash = (hex: string): string => hex.slice(0, 16);
