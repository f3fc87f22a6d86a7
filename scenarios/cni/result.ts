/**
 * The CNI Result (SPEC.md "Success"), as this package passes it from plugin to
 * plugin as `prevResult` and returns it to the runtime. Internally addresses
 * are kept version-neutral; `formatResult` writes the JSON of the conflist's
 * cniVersion (0.4.0 adds "version": "4" to each IP; 1.x does not; 1.1.0 adds
 * an interface's mtu).
 */

export interface CniInterface {
  name: string;
  mac: string;
  /** Path of the network namespace; present only for interfaces inside the sandbox. */
  sandbox?: string;
  mtu?: number;
}

export interface CniIp {
  /** "10.244.1.2/24" */
  address: string;
  gateway?: string;
  /** Index into `interfaces`. */
  interface?: number;
}

export interface CniRoute {
  dst: string;
  gw?: string;
}

export interface CniDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

export interface CniResult {
  cniVersion: string;
  interfaces: CniInterface[];
  ips: CniIp[];
  routes: CniRoute[];
  dns: CniDns;
}

export function emptyResult(cniVersion: string): CniResult {
  return { cniVersion, interfaces: [], ips: [], routes: [], dns: {} };
}

/** The result as the spec version prints it (key order as libcni's types marshal it). */
export function formatResult(r: CniResult): Record<string, unknown> {
  const v04 = r.cniVersion === '0.4.0';
  // Interface.mtu is new in 1.1.0.
  const withMtu = r.cniVersion === '1.1.0';
  const out: Record<string, unknown> = { cniVersion: r.cniVersion };
  if (r.interfaces.length > 0) {
    out.interfaces = r.interfaces.map((i) => ({
      name: i.name,
      mac: i.mac,
      ...(i.mtu !== undefined && withMtu ? { mtu: i.mtu } : {}),
      ...(i.sandbox !== undefined ? { sandbox: i.sandbox } : {}),
    }));
  }
  if (r.ips.length > 0) {
    out.ips = r.ips.map((ip) => ({
      ...(v04 ? { version: '4' } : {}),
      ...(ip.interface !== undefined ? { interface: ip.interface } : {}),
      address: ip.address,
      ...(ip.gateway !== undefined ? { gateway: ip.gateway } : {}),
    }));
  }
  if (r.routes.length > 0) out.routes = r.routes.map((x) => ({ dst: x.dst, ...(x.gw !== undefined ? { gw: x.gw } : {}) }));
  out.dns = { ...r.dns };
  return out;
}
