/**
 * Two pods of one node with no delay anywhere on their path (`vethDelay: 0s`):
 * a TCP exchange between them runs to its end inside the call that starts it.
 * `traffic` is one flow entry in the scenario's flow syntax.
 */
export function zeroDelayPods(traffic: string, capture = 'all'): string {
  return `
name: zero-delay
duration: 1s
vethDelay: 0s
nodes:
  - name: n1
    pods: [{ name: a }, { name: b }]
traffic:
  - ${traffic}
capture: ${capture}
`;
}
