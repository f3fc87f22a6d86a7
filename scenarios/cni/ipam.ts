/** The `ipam` section of a main plugin: only host-local is modelled. */
import { Fields } from './fields.js';
import { type HostLocalConf, parseHostLocal } from './host-local.js';

export function parseIpam(f: Fields): HostLocalConf {
  const ipam = f.object('ipam');
  if (ipam === undefined) f.fail('ipam', 'is required (an IPAM plugin, e.g. {"type": "host-local", ...})');
  const type = ipam.reqStr('type');
  if (type !== 'host-local') ipam.fail('type', `unknown IPAM plugin "${type}" (podwire models host-local)`);
  return parseHostLocal(ipam);
}
