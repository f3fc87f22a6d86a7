import type { Component } from '../engine/simulation.js';
import { Backlog } from './devices/backlog.js';
import type { Observer } from './observer.js';
import type { Tracer } from './trace/tracer.js';
import type { TcpParams } from './stack/tcp/params.js';

/**
 * What the namespaces of one component share: the component (clock, events,
 * random streams), the receive backlog (one CPU's softirq queue) and the packet
 * id counter. Packet ids are (component id, counter), so they are the same
 * however the components are spread over threads.
 */
export class NodeContext {
  readonly backlog = new Backlog();
  /** Installed by `podwire trace`; null otherwise (trace points cost one check). */
  tracer: Tracer | null = null;
  /** The TCP sysctls of this component's namespaces, where the scenario sets them (kept here, not per namespace: a large cluster has 150,000). */
  tcpParams: Partial<TcpParams> = {};
  private packets = 0;

  constructor(
    readonly component: Component,
    readonly observer: Observer,
  ) {}

  newPacketId(): number {
    return this.component.id * 2 ** 32 + this.packets++;
  }
}
