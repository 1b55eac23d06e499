/**
 * Query strings for the API server's REST paths (paths.ts): undefined values
 * are left out, the rest encoded as URLSearchParams encodes them.
 */

export function withQuery(path: string, query: Record<string, string | number | boolean | undefined>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
  const q = params.toString();
  return q ? `${path}?${q}` : path;
}
