/**
 * The overlay's scenario options (scenarios/overlay.ts builds the devices):
 * `vxlan` only with routing vxlan; the pod MTU defaults to the underlay's
 * minus the encapsulation (flannel's FLANNEL_MTU) and may not exceed the
 * underlay's.
 */
import { IPIP_OVERHEAD } from '../models/devices/ipip.js';
import { VXLAN_OVERHEAD } from '../models/devices/vxlan.js';
import { DEFAULTS } from './defaults.js';
import type { Problems } from './problems.js';
import type { RawScenario } from './raw-scenario.js';
import type { VxlanConfig } from './scenario.js';

export function overlayOptions(problems: Problems, raw: RawScenario): { vxlan?: VxlanConfig; podMtu: number } {
  const routing = raw.routing ?? DEFAULTS.routing;
  const mtu = raw.mtu ?? DEFAULTS.mtu;
  if (raw.vxlan !== undefined && routing !== 'vxlan') problems.fail(['vxlan'], `applies only to routing: vxlan (routing is ${routing})`);
  const overhead = routing === 'vxlan' ? VXLAN_OVERHEAD : routing === 'ipip' ? IPIP_OVERHEAD : 0;
  const podMtu = raw.podMtu ?? mtu - overhead;
  if (podMtu > mtu) problems.fail(['podMtu'], `${podMtu} exceeds the underlay mtu (${mtu})`);
  if (podMtu < 68) problems.fail(['mtu'], `${mtu} leaves a pod MTU of ${podMtu} after ${overhead} bytes of ${routing} overhead (at least 68 needed)`);
  if (routing !== 'vxlan') return { podMtu };
  const vxlan: VxlanConfig = {
    vni: raw.vxlan?.vni ?? DEFAULTS.vxlan.vni,
    port: raw.vxlan?.port ?? DEFAULTS.vxlan.port,
    udpChecksum: raw.vxlan?.udpChecksum ?? DEFAULTS.vxlan.udpChecksum,
  };
  return { vxlan, podMtu };
}
