import { afterAll, afterEach, expect } from 'vitest';
import { deleteOwnNamespaces, listOwnNamespaces } from './netns-topology.js';

/**
 * Registers, in the calling describe block, the checks every kernel test keeps:
 * each test leaves none of this process's namespaces behind, and whatever a
 * failed test left is deleted at the end.
 */
export function expectNamespacesCleanedUp(): void {
  afterEach(() => {
    expect(listOwnNamespaces()).toEqual([]);
  });
  afterAll(() => {
    deleteOwnNamespaces();
  });
}
