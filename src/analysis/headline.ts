/**
 * The report's opening sentences. The user came for the server, so they say
 * first where it stopped (if it did), where it broke (the knee, or that there
 * was none), what it reached first, and its memory per CRD; only then the
 * caveat that the load generator itself saturated in some phases (whose
 * numbers then describe the client). A pure function of facts the analysis
 * already worked out, each one a plain value.
 */

export interface HeadlineFacts {
  /** Where and why the sweep stopped early (analysis' stopSentence). */
  stop?: string;
  /** More than one level measured: a sweep, so there is a knee to find. */
  swept: boolean;
  /** First and last level, with units (`100 CRDs`). */
  span?: { from: string; to: string };
  kneeFactor: number;
  knee?: {
    /** `250 CRDs (step 1, phase churn)` */
    where: string;
    reason: string;
    /** What limited the knee's phase, when the server-side evidence names it. */
    cause?: string;
    /** The load generator was saturated in the knee's phase too. */
    harnessToo: boolean;
  };
  /** The earliest server limit reached that is not already the knee's cause. */
  firstLimit?: { what: string; phase: string; step: number; because: string; harnessToo: boolean };
  /** API server memory growth across the sweep, when the CRD count grew. */
  memory?: { apiserver: string; perCrdBytes: number; grewBytes: number; fromCrds: number; toCrds: number };
  /** The phases in which the load generator saturated, in run order. */
  harness: { phase: string; step: number }[];
}

const MiB = 2 ** 20;

function size(bytes: number): string {
  const a = Math.abs(bytes);
  const text = a >= MiB ? `${(a / MiB).toFixed(1)} MiB` : `${Math.round(a / 1024)} KiB`;
  return bytes < 0 ? `−${text}` : text;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** `discovery-aggregated at steps 0 and 2, openapi-v3 at step 0` */
export function phaseList(at: readonly { phase: string; step: number }[]): string {
  const byPhase = new Map<string, number[]>();
  for (const { phase, step } of at) byPhase.set(phase, [...(byPhase.get(phase) ?? []), step]);
  return [...byPhase]
    .map(([phase, steps]) => {
      const list = steps.length === 1 ? `step ${steps[0]}` : `steps ${steps.slice(0, -1).join(', ')} and ${steps[steps.length - 1]}`;
      return `${phase} at ${list}`;
    })
    .join(', ');
}

/** Where the server broke, or that it did not. */
function breakSentence(f: HeadlineFacts): string {
  if (f.knee) {
    const cause = f.knee.cause ? `; limited by ${f.knee.cause}` : '';
    const too = f.knee.harnessToo ? ' (the load generator was saturated in that phase too)' : '';
    return `Knee at ${f.knee.where}: ${f.knee.reason}${cause}${too}.`;
  }
  if (f.swept && f.span) {
    return `No knee from ${f.span.from} to ${f.span.to}: every phase's p99 stayed within ${f.kneeFactor}× its first step, with no error or throughput break.`;
  }
  if (f.stop) return 'One step measured before the stop: no knee to find.';
  if (f.firstLimit) return '';
  return 'Single step: the server reached no limit (no sweep, so no knee to find).';
}

function firstLimitSentence(f: HeadlineFacts): string {
  const l = f.firstLimit;
  if (!l) return '';
  const too = l.harnessToo ? ', while the load generator was saturated too' : '';
  if (!f.swept) return `${l.what} limited ${l.phase}: ${l.because}${too}.`;
  return `First limit the server reached: ${l.what} in ${l.phase} at step ${l.step} (${l.because}${too}).`;
}

function memorySentence(f: HeadlineFacts): string {
  const m = f.memory;
  if (!m) return '';
  return `${m.apiserver} memory: ${size(m.perCrdBytes)} per CRD (${m.grewBytes >= 0 ? '+' : ''}${size(m.grewBytes)} from ${m.fromCrds} to ${m.toCrds} CRDs).`;
}

/** The caveat, always after the server's sentences. */
export function harnessCaveat(at: readonly { phase: string; step: number }[]): string {
  if (at.length === 0) return '';
  return `The load generator itself saturated in ${plural(at.length, 'phase')} (${phaseList(at)}); treat those numbers as client limits, not server limits.`;
}

export function headlineText(f: HeadlineFacts): string {
  return [f.stop ?? '', breakSentence(f), firstLimitSentence(f), memorySentence(f), harnessCaveat(f.harness)].filter(Boolean).join(' ');
}
