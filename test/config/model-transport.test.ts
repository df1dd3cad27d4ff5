/** `models.<id>.timeouts` and `models.<id>.compat` (reference 2.12, 2.13, 3.9, 4.10). */
import { describe, expect, it } from 'vitest';
import { DEFAULT_MODEL_TIMEOUTS } from '../../src/config/timeouts.ts';
import { load, loadError } from './helpers.ts';

const model = (id: string, extra: string): string => `models:\n  ${id}:\n    proxy: http://h:1\n${extra.replace(/^/gm, '    ')}\n`;

describe('models.<id>.timeouts', () => {
  it('defaults to Go DefaultTransport: connect 30, keepalive 30, responseHeader 0, tlsHandshake 10, expectContinue 1, idleConn 90', () => {
    expect(load(model('m', 'cmd: x')).models.m!.timeouts).toEqual({
      connect: 30,
      keepalive: 30,
      responseHeader: 0,
      tlsHandshake: 10,
      expectContinue: 1,
      idleConn: 90,
    });
  });

  it('each key overrides its default; 0 disables it; no "not supported" warning', () => {
    const cfg = load(model('m', 'timeouts:\n  connect: 5\n  responseHeader: 120\n  idleConn: 0'));
    expect(cfg.models.m!.timeouts).toEqual({ ...DEFAULT_MODEL_TIMEOUTS, connect: 5, responseHeader: 120, idleConn: 0 });
    expect(cfg.warnings).toEqual([]);
  });

  it('a negative, a non-integer or one longer than a timer fails, naming the key', () => {
    expect(loadError(model('m', 'timeouts:\n  connect: -1')).message).toBe(
      'config.yaml:5: models.m.timeouts.connect must be >= 0 (seconds; 0 disables it)',
    );
    expect(loadError(model('m', 'timeouts:\n  responseHeader: 1.5')).message).toBe(
      'config.yaml:5: models.m.timeouts.responseHeader: expected an integer, got number 1.5',
    );
    expect(loadError(model('m', 'timeouts:\n  keepalive: 9999999')).message).toMatch(
      /^config\.yaml:5: models\.m\.timeouts\.keepalive must be at most 2147483 seconds/,
    );
  });

  it('an unknown key is warned about with a hint', () => {
    expect(load(model('m', 'timeouts:\n  conect: 1')).warnings).toEqual([
      'config.yaml:5: unknown key "models.m.timeouts.conect" ignored (did you mean "connect"?)',
    ]);
  });
});

describe('models.<id>.compat', () => {
  it('ignoreWebsockets defaults to false and is read as written', () => {
    expect(load(model('m', 'cmd: x')).models.m!.compat).toEqual({ ignoreWebsockets: false });
    const cfg = load(model('m', 'compat:\n  ignoreWebsockets: true'));
    expect(cfg.models.m!.compat).toEqual({ ignoreWebsockets: true });
    expect(cfg.warnings).toEqual([]);
  });

  it('is forced on for comfyui_auto, whatever the file says', () => {
    expect(load(model('comfyui_auto', 'compat:\n  ignoreWebsockets: false')).models.comfyui_auto!.compat).toEqual({
      ignoreWebsockets: true,
    });
    expect(load(model('comfyui_auto', 'cmd: x')).models.comfyui_auto!.concurrencyLimit).toBe(50);
  });

  it('a non-boolean fails; an unknown key is warned about', () => {
    expect(loadError(model('m', 'compat:\n  ignoreWebsockets: 3')).message).toMatch(/^config\.yaml:5: models\.m\.compat\.ignoreWebsockets: expected a boolean/);
    expect(load(model('m', 'compat:\n  ignoreWebsocket: true')).warnings).toEqual([
      'config.yaml:5: unknown key "models.m.compat.ignoreWebsocket" ignored (did you mean "ignoreWebsockets"?)',
    ]);
  });
});
