/**
 * Reading one JSON object of a CNI configuration with errors that name the
 * file and the JSON path (`cni.conflist: plugins[0].ipam.subnet: not a CIDR`).
 * Every key must be read or explicitly allowed: `done()` reports the rest as
 * unsupported, since an option podwire does not model must not pass silently.
 */
import { parseCidr, parseIpv4, type Cidr } from '../ipv4.js';

/** A configuration problem: `file: path: reason`. */
export class CniConfigError extends Error {
  constructor(
    readonly file: string,
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${file}: ${path}: ${reason}`);
    this.name = 'CniConfigError';
  }
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

export class Fields {
  private readonly seen = new Set<string>();

  constructor(
    readonly obj: Record<string, unknown>,
    readonly file: string,
    readonly path: string,
  ) {}

  /** The object at `value`, or an error naming `path`. */
  static of(value: unknown, file: string, path: string): Fields {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new CniConfigError(file, path, `must be an object, not ${kindOf(value)}`);
    }
    return new Fields(value as Record<string, unknown>, file, path);
  }

  at(key: string | number): string {
    return typeof key === 'number' ? `${this.path}[${key}]` : this.path === '' ? key : `${this.path}.${key}`;
  }

  fail(key: string, reason: string): never {
    throw new CniConfigError(this.file, this.at(key), reason);
  }

  has(key: string): boolean {
    return this.obj[key] !== undefined;
  }

  /** Marks keys as accepted without reading them (informative fields). */
  allow(...keys: string[]): void {
    for (const k of keys) this.seen.add(k);
  }

  raw(key: string): unknown {
    this.seen.add(key);
    return this.obj[key];
  }

  str(key: string): string | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') this.fail(key, `must be a string, not ${kindOf(v)}`);
    return v;
  }

  reqStr(key: string): string {
    const v = this.str(key);
    if (v === undefined || v === '') this.fail(key, 'is required');
    return v;
  }

  bool(key: string): boolean | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') this.fail(key, `must be true or false, not ${kindOf(v)}`);
    return v;
  }

  int(key: string, min: number, max: number): number | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.fail(key, `must be an integer from ${min} to ${max}, not ${JSON.stringify(v)}`);
    }
    return v;
  }

  ip(key: string): number | undefined {
    const v = this.str(key);
    if (v === undefined) return undefined;
    const a = parseIpv4(v);
    if (a === undefined) this.fail(key, v.includes(':') ? 'IPv6 is not supported (IPv4 only)' : 'not an IPv4 address');
    return a;
  }

  cidr(key: string): Cidr | undefined {
    const v = this.str(key);
    if (v === undefined) return undefined;
    const c = parseCidr(v);
    if (c === undefined) this.fail(key, v.includes(':') ? 'IPv6 is not supported (IPv4 only)' : 'not a CIDR');
    return c;
  }

  object(key: string): Fields | undefined {
    const v = this.raw(key);
    return v === undefined ? undefined : Fields.of(v, this.file, this.at(key));
  }

  arr(key: string): unknown[] | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) this.fail(key, `must be an array, not ${kindOf(v)}`);
    return v;
  }

  /** Rejects every key that was neither read nor allowed. */
  done(): void {
    for (const k of Object.keys(this.obj)) {
      if (!this.seen.has(k)) this.fail(k, 'unsupported option (podwire does not model it)');
    }
  }
}
