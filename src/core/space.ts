import type { Config, ConfigValue } from './types';

export type KnobStage = 'quantize' | 'runtime';

export interface Knob {
  name: string;
  kind: 'enum' | 'int' | 'bool';
  /** The domain, in a meaningful order (ascending for ints; best-quality-first for quant types). */
  values: ConfigValue[];
  default: ConfigValue;
  stage: KnobStage;
  /** One line: what the knob does. The same text goes to the UI tooltip and the agent prompt. */
  meaning: string;
  /** True when neighbouring values behave alike (threads, batch sizes); strategies may smooth over it. */
  ordinal: boolean;
  /**
   * Set on recipe knobs that exist to buy accuracy: 'same-size' (an importance matrix: the same tensor types, so the
   * same file size and kernels), 'precision' (its values listed from the plainest: a later one keeps tensors at higher
   * precision, a larger file). Where accuracy is not measured, such a move cannot improve the answer (stopping.ts).
   */
  buysAccuracy?: 'same-size' | 'precision';
}

export interface Constraint {
  id: string;
  /** One line, shown to users and to the agent. */
  description: string;
  /** undefined when satisfied, else the reason it is not. */
  check(config: Config): string | undefined;
}

/** The knobs and the rules that tie them: the only door through which a proposal becomes a process. */
export class SearchSpace {
  constructor(
    readonly knobs: Knob[],
    readonly constraints: Constraint[] = [],
  ) {}

  knob(name: string): Knob | undefined {
    return this.knobs.find((k) => k.name === name);
  }

  /** Every reason `config` is not a valid point of this space; empty when it is. */
  validate(config: unknown): string[] {
    if (config === null || typeof config !== 'object' || Array.isArray(config))
      return ['a configuration must be an object of knob → value'];
    const errors: string[] = [];
    const c = config as Record<string, unknown>;
    for (const name of Object.keys(c)) {
      if (!this.knob(name)) errors.push(`unknown knob "${name}" (known: ${this.knobs.map((k) => k.name).join(', ')})`);
    }
    for (const k of this.knobs) {
      if (!(k.name in c)) {
        errors.push(`knob "${k.name}" is missing`);
        continue;
      }
      const v = c[k.name];
      const plain =
        (k.kind === 'bool' && typeof v === 'boolean') ||
        (k.kind === 'int' && typeof v === 'number' && Number.isInteger(v)) ||
        (k.kind === 'enum' && typeof v === 'string');
      if (!plain) {
        const type = k.kind === 'enum' ? 'string' : k.kind === 'int' ? 'integer' : 'boolean';
        errors.push(`knob "${k.name}" must be a plain ${type}, got ${describeValue(v)}`);
        continue;
      }
      if (!k.values.includes(v as ConfigValue)) {
        const domain = k.values.map((x) => JSON.stringify(x)).join(', ');
        errors.push(`knob "${k.name}" = ${JSON.stringify(v)} is outside its domain {${domain}}`);
      }
    }
    if (errors.length) return errors;
    for (const con of this.constraints) {
      const why = con.check(c as Config);
      if (why) errors.push(`${con.id}: ${why}`);
    }
    return errors;
  }

  isValid(config: unknown): config is Config {
    return this.validate(config).length === 0;
  }

  /** Canonical identity of a configuration: knob order of the space, values as JSON. */
  key(config: Config): string {
    return this.knobs.map((k) => `${k.name}=${JSON.stringify(config[k.name])}`).join(',');
  }

  /** Copy of `config` with knobs in space order and nothing else. */
  canonical(config: Config): Config {
    const out: Config = {};
    for (const k of this.knobs) out[k.name] = config[k.name];
    return out;
  }

  defaults(): Config {
    return Object.fromEntries(this.knobs.map((k) => [k.name, k.default]));
  }

  /** Size of the full product, before constraints. */
  productSize(): number {
    return this.knobs.reduce((n, k) => n * k.values.length, 1);
  }

  /** Every valid configuration, in odometer order (last knob fastest). */
  *enumerate(): Generator<Config> {
    const idx = this.knobs.map(() => 0);
    const n = this.productSize();
    for (let i = 0; i < n; i++) {
      const c: Config = {};
      this.knobs.forEach((k, j) => {
        c[k.name] = k.values[idx[j]];
      });
      if (this.isValid(c)) yield c;
      for (let j = this.knobs.length - 1; j >= 0; j--) {
        if (++idx[j] < this.knobs[j].values.length) break;
        idx[j] = 0;
      }
    }
  }

  /** A short text of every knob and constraint, for `haqa` output and the agent's static prompt. */
  describe(): string {
    const lines = this.knobs.map((k) => {
      const domain = runs(k.values).join(', ');
      return `${k.name} [${k.stage}] {${domain}} (default ${String(k.default)}): ${k.meaning}`;
    });
    for (const c of this.constraints) lines.push(`constraint ${c.id}: ${c.description}`);
    return lines.join('\n');
  }
}

/** Values as written in a description: a run of four or more consecutive integers as `a..b`. */
function runs(values: ConfigValue[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < values.length;) {
    let j = i;
    while (typeof values[j] === 'number' && values[j + 1] === (values[j] as number) + 1) j++;
    out.push(j - i >= 3 ? `${String(values[i])}..${String(values[j])}` : String(values[i]));
    if (j - i < 3) j = i;
    i = j + 1;
  }
  return out;
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${JSON.stringify(v)}`;
}
