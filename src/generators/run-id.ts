/**
 * Run ids: every run (and every shard or thread of one) gets its own, and
 * every name and label it creates carries it (labels.ts), so runs never collide.
 */
import { randomBytes } from 'node:crypto';

/** A short id, valid inside DNS labels: 8 lowercase base-36 characters. */
export function newRunId(): string {
  const bytes = randomBytes(8);
  let out = '';
  for (const b of bytes) out += 'abcdefghijklmnopqrstuvwxyz0123456789'[b % 36];
  // Start with a letter so the id is also a valid DNS-1035 label prefix.
  return `r${out.slice(1)}`;
}

/** The shape of every run id (newRunId makes them; user-given ids are checked against it). */
export const RUN_ID = /^[a-z][a-z0-9]{7}$/;
