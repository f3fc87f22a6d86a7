import { ScenarioError } from '../../scenarios/errors.js';
import { parseScenario } from '../../scenarios/loader.js';

/** The lines of the ScenarioError `run` throws (one problem each); any other error propagates, and throwing none fails. */
export function scenarioErrors(run: () => unknown): string[] {
  try {
    run();
  } catch (e) {
    if (!(e instanceof ScenarioError)) throw e;
    return e.message.split('\n');
  }
  throw new Error('expected a ScenarioError');
}

/** The problems of `text` as the scenario file x.yaml. */
export function parseErrors(text: string): string[] {
  return scenarioErrors(() => parseScenario(text, 'x.yaml'));
}
