import { describe, expect, it } from 'vitest';
import { parseScenario } from '../../src/scenarios/parse.js';
import { parseStopCondition, parseStopFlag } from '../../src/scenarios/stop.js';
import { InputError } from '../../src/types/errors.js';

describe('stop conditions', () => {
  it('parses memory as a size or a share of the machine', () => {
    expect(parseStopFlag('serverMemory=16GiB')).toMatchObject({ kind: 'serverMemory', bytes: 16 * 2 ** 30 });
    expect(parseStopFlag('serverMemory=800MiB')).toMatchObject({ bytes: 800 * 2 ** 20 });
    expect(parseStopFlag('serverMemory=2GB')).toMatchObject({ bytes: 2e9 });
    expect(parseStopFlag('serverMemory=85%')).toMatchObject({ kind: 'serverMemory', share: 0.85 });
    expect(() => parseStopFlag('serverMemory=lots')).toThrow(/expected a memory size such as 16GiB/);
    expect(() => parseStopFlag('serverMemory=150%')).toThrow(/between 0% and 100%/);
  });

  it('parses latency percentiles, error rates and wall-clock time', () => {
    expect(parseStopFlag('install.p99=60s')).toMatchObject({ kind: 'latency', phase: 'install', percentile: 'p99', ms: 60_000 });
    expect(parseStopFlag('create-rate.max=1.5s')).toMatchObject({ phase: 'create-rate', percentile: 'max', ms: 1500 });
    expect(parseStopFlag('errorRate=5%')).toMatchObject({ kind: 'errorRate', share: 0.05 });
    expect(parseStopCondition('errorRate', 0.02)).toMatchObject({ share: 0.02 });
    expect(parseStopFlag('elapsed=35m')).toMatchObject({ kind: 'elapsed', ms: 35 * 60_000 });
    expect(() => parseStopFlag('install.p99=soon')).toThrow(/expected a duration/);
    expect(() => parseStopFlag('errorRate=2')).toThrow(/expected an error rate/);
    expect(() => parseStopFlag('memory=1GiB')).toThrow(/expected a key serverMemory, errorRate, elapsed/);
    expect(() => parseStopFlag('serverMemory')).toThrow(/expected KEY=VALUE/);
  });

  const scenario = (stopWhen: string) => `version: 1
name: s
generate: { crds: { count: 10 } }
steps: { by: crds, at: [5, 10] }
phases:
  - { name: install, op: create, of: crds, concurrency: 2 }
stopWhen: ${stopWhen}
`;

  it('accepts stopWhen in a scenario', () => {
    const doc = parseScenario(scenario('{ serverMemory: 85%, install.p99: 60s, errorRate: 0.05, elapsed: 30m }'), 's.yaml');
    expect(doc.stopWhen).toEqual({ serverMemory: '85%', 'install.p99': '60s', errorRate: 0.05, elapsed: '30m' });
  });

  it('reports bad stopWhen entries at their position', () => {
    const problems = (text: string) => {
      try {
        parseScenario(text, 's.yaml');
      } catch (err) {
        return (err as InputError).message;
      }
      return '';
    };
    expect(problems(scenario('{ serverMemory: plenty }'))).toMatch(/^s\.yaml:7:\d+ stopWhen\.serverMemory: expected a memory size such as 16GiB/);
    expect(problems(scenario('{ list.p99: 1s }'))).toMatch(/stopWhen\.list\.p99: expected the name of a phase \(install\) before \.p99, got "list"/);
    expect(problems(scenario('{ memory: 1GiB }'))).toMatch(/s\.yaml:7:\d+ stopWhen\.memory: expected serverMemory, errorRate, elapsed or a key like install\.p99/);
  });
});
