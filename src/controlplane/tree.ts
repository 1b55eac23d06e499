/**
 * Looking at a k8s.io/kubernetes source tree given as `source=DIR`: its layout
 * (a git checkout with ./staging modules, or a copy of the module source
 * without them), its version, and a content hash that keys the build cache,
 * so a patched tree rebuilds when its content changes and an unchanged one
 * never does.
 *
 * Hashing (measured on this machine, README "The server under test"):
 * - a git checkout: HEAD + the bytes of `git diff HEAD` + the untracked files
 *   (git already knows what changed, so this stays fast on a full checkout);
 * - anything else: Go's own module hash (dirhash "h1", the go.sum format) over
 *   every file, so an untouched copy of k8s.io/kubernetes@vX.Y.Z hashes to the
 *   very sum the module proxy publishes, and "patched" is a fact, not a guess;
 *   files unchanged since the last hash (size, mtime, inode) are not read again.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { UsageError } from '../types/errors.js';
import { isRelease } from './spec.js';

const run = promisify(execFile);

export type TreeLayout = 'checkout' | 'module';

export interface SourceTree {
  dir: string;
  layout: TreeLayout;
  /** k8s.io/<name> → folder, for a checkout's staging modules. */
  staging: Record<string, string>;
  git?: { describe: string; head: string; dirty: boolean };
  hash: string;
  hashMethod: string;
}

/** Checks that DIR is a k8s.io/kubernetes tree; returns its layout and staging folders. */
export async function inspectTree(dir: string): Promise<{ layout: TreeLayout; staging: Record<string, string>; goMod: string }> {
  const hint = 'source= takes the root of a k8s.io/kubernetes tree (a git checkout, or a copy of `go mod download -json k8s.io/kubernetes@vX.Y.Z`\'s Dir)';
  const isDir = await stat(dir).then((s) => s.isDirectory(), () => false);
  if (!isDir) throw new UsageError(`source=${dir}: no such folder`, hint);
  if (!existsSync(path.join(dir, 'cmd', 'kube-apiserver'))) throw new UsageError(`source=${dir}: not a k8s.io/kubernetes tree (no cmd/kube-apiserver)`, hint);
  const goMod = await readFile(path.join(dir, 'go.mod'), 'utf8').catch(() => '');
  if (!/^module\s+k8s\.io\/kubernetes\s*$/m.test(goMod)) throw new UsageError(`source=${dir}: its go.mod is not that of module k8s.io/kubernetes`, hint);
  const staging: Record<string, string> = {};
  for (const line of goMod.split('\n')) {
    const m = /^\s*(?:replace\s+)?(k8s\.io\/[\w.-]+)\s*=>\s*(\.\/staging\/\S+)/.exec(line);
    if (m && existsSync(path.join(dir, m[2]!, 'go.mod'))) staging[m[1]!] = path.join(dir, m[2]!);
  }
  // A module copy keeps staging/README.md and the like, but never the nested modules.
  return { layout: Object.keys(staging).length > 0 ? 'checkout' : 'module', staging, goMod };
}

async function git(dir: string, args: string[]): Promise<string> {
  const { stdout } = await run('git', ['-C', dir, ...args], { maxBuffer: 1 << 30, encoding: 'buffer' });
  return stdout.toString('utf8');
}

/** Whether DIR is the top of a git work tree (a copy inside some other repository is not). */
export async function isGitTop(dir: string): Promise<boolean> {
  if (!existsSync(path.join(dir, '.git'))) return false;
  try {
    return path.resolve((await git(dir, ['rev-parse', '--show-toplevel'])).trim()) === path.resolve(dir);
  } catch {
    return false;
  }
}

/** HEAD, `git describe`, and a hash of HEAD + the uncommitted diff + untracked files. */
export async function hashCheckout(dir: string): Promise<{ hash: string; git: { describe: string; head: string; dirty: boolean } }> {
  const head = (await git(dir, ['rev-parse', 'HEAD'])).trim();
  const describe = (await git(dir, ['describe', '--tags', '--always', '--dirty']).catch(() => head)).trim();
  const { stdout: diff } = await run('git', ['-C', dir, 'diff', 'HEAD', '--binary', '--no-ext-diff', '--no-color'], { maxBuffer: 1 << 30, encoding: 'buffer' });
  const untracked = (await git(dir, ['ls-files', '-z', '--others', '--exclude-standard'])).split('\0').filter(Boolean).sort();
  const h = createHash('sha256');
  h.update(`head ${head}\n`);
  h.update(diff);
  for (const file of untracked) h.update(`\nuntracked ${file} ${await sha256File(path.join(dir, file))}`);
  return { hash: h.digest('hex'), git: { describe, head, dirty: diff.length > 0 || untracked.length > 0 } };
}

/**
 * Read through one reused buffer: a stream hands out a fresh 64 KiB Buffer per
 * chunk, and the chunks of a ~150 MB kube-apiserver binary waited for the GC,
 * which took a run's RSS up by ~80 MB before any load (measured, issue 14).
 */
export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(1024 * 1024);
  const fh = await open(file, 'r');
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
  return h.digest('hex');
}

async function listFiles(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const files: string[] = [];
  for (const e of entries) {
    if (!e.isFile()) continue;
    const rel = path.relative(root, path.join(e.parentPath, e.name)).split(path.sep).join('/');
    if (rel === '.git' || rel.startsWith('.git/')) continue;
    files.push(rel);
  }
  return files;
}

/** Per-file sha256 remembered between runs, trusted only while size, mtime and inode are unchanged (as git's index). */
interface HashCache {
  writtenAtMs: number;
  files: Record<string, [size: number, mtimeMs: number, ino: number, sha256: string]>;
}

async function readHashCache(file: string | undefined): Promise<HashCache | undefined> {
  if (!file) return undefined;
  try {
    return JSON.parse(await readFile(file, 'utf8')) as HashCache;
  } catch {
    return undefined;
  }
}

/**
 * Go's dirhash.Hash1 (golang.org/x/mod/sumdb/dirhash) of DIR as module
 * `prefix` (e.g. `k8s.io/kubernetes@v1.37.2`): sha256 over the sorted lines
 * "<sha256 of file>  <prefix>/<path>\n". Equal to the module's go.sum hash when
 * DIR holds exactly the module's files. With `cacheFile`, a file's sha256 is
 * reused while its size, mtime and inode are unchanged; a file modified within
 * 2 s of the cache's writing is always read again (its mtime may not tell a
 * later write apart, the "racy git" case).
 */
export async function dirhash1(dir: string, prefix: string, cacheFile?: string): Promise<string> {
  const names = (await listFiles(dir)).map((rel) => ({ rel, name: `${prefix}/${rel}` }));
  names.sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
  const cache = await readHashCache(cacheFile);
  const fresh: HashCache = { writtenAtMs: Date.now(), files: {} };
  const sums = new Array<string>(names.length);
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const i = next++;
      const rel = names[i]!.rel;
      const file = path.join(dir, rel);
      const st = await stat(file);
      const known = cache?.files[rel];
      const trusted = known && known[0] === st.size && known[1] === st.mtimeMs && known[2] === st.ino && st.mtimeMs < cache!.writtenAtMs - 2000;
      sums[i] = trusted ? known[3] : await sha256File(file);
      fresh.files[rel] = [st.size, st.mtimeMs, st.ino, sums[i]!];
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  const h = createHash('sha256');
  names.forEach((n, i) => h.update(`${sums[i]}  ${n.name}\n`));
  if (cacheFile) {
    await mkdir(path.dirname(cacheFile), { recursive: true });
    const tmp = `${cacheFile}.tmp-${process.pid}`;
    await writeFile(tmp, JSON.stringify(fresh));
    await rename(tmp, cacheFile);
  }
  return `h1:${h.digest('base64')}`;
}

/**
 * The tree's version: `version=` if given, else `git describe` (a release tag
 * for a module-layout tree), else the folder name of a module-cache copy
 * (`kubernetes@v1.37.2`). A module-layout tree needs a release (its staging
 * modules come from the proxy at that version); a checkout only stamps it.
 */
export async function treeVersion(dir: string, layout: TreeLayout, given: string | undefined, describe: string | undefined): Promise<{ version: string; from: string }> {
  if (given) return { version: given, from: 'version=' };
  const tag = describe?.replace(/-dirty$/, '');
  if (tag && (layout === 'checkout' ? /^v\d+\.\d+\.\d+/.test(tag) : isRelease(tag))) return { version: tag, from: 'git describe' };
  const m = /^kubernetes@(v1\.\d+\.\d+)$/.exec(path.basename(dir));
  if (m) return { version: m[1]!, from: 'folder name' };
  throw new UsageError(
    `source=${dir}: cannot tell which Kubernetes release this tree is (no release tag in git describe, folder not named kubernetes@vX.Y.Z)`,
    `add it to the spec: source=${dir},version=v1.37.2`,
  );
}
