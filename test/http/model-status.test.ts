/**
 * The `modelStatus` payload of `/api/events` (reference 3.11): local models first (sorted,
 * `peerID` empty), then every peer model by FQN with its `peerID`.
 */
import { describe, expect, it } from 'vitest';
import { modelStatus } from '../../src/http/model-status.ts';
import type { SchedulerRuntime } from '../../src/runtime/scheduler-runtime.ts';
import { load, yaml } from '../config/helpers.ts';

const cfg = load(yaml`
  models:
    zed: {proxy: "http://h:1"}
    alpha: {proxy: "http://h:2", aliases: [a]}
  peers:
    p2: {proxy: "http://p2", models: [x]}
    p1: {proxy: "http://p1", models: [org/m, b]}
`);
// Nothing loaded: every local process reads as stopped.
const runtime = { process: () => undefined } as unknown as SchedulerRuntime;

describe('modelStatus', () => {
  it('lists local models, then peer models by FQN with their peerID', () => {
    expect(modelStatus(cfg, runtime)).toEqual([
      { id: 'alpha', name: '', description: '', state: 'stopped', unlisted: false, peerID: '', aliases: ['a'] },
      { id: 'zed', name: '', description: '', state: 'stopped', unlisted: false, peerID: '' },
      { id: 'p1/b', name: '', description: '', state: 'stopped', unlisted: false, peerID: 'p1' },
      { id: 'p1/org/m', name: '', description: '', state: 'stopped', unlisted: false, peerID: 'p1' },
      { id: 'p2/x', name: '', description: '', state: 'stopped', unlisted: false, peerID: 'p2' },
    ]);
  });
});
