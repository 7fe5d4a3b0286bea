import { describe, expect, it } from 'vitest';
import { resolveLogFormat } from '../../src/logger.js';
import { isOlder } from '../../src/runtime-check.js';

describe('log format', () => {
  it('is pretty on a terminal and JSON elsewhere, unless chosen', () => {
    expect(resolveLogFormat(undefined, { isTTY: true })).toBe('pretty');
    expect(resolveLogFormat(undefined, { isTTY: false })).toBe('json');
    expect(resolveLogFormat(undefined, {})).toBe('json');
    expect(resolveLogFormat('json', { isTTY: true })).toBe('json');
    expect(resolveLogFormat('pretty', { isTTY: false })).toBe('pretty');
  });
});

describe('Node.js version check', () => {
  it.each([
    ['20.20.2', '24.11.0', true],
    ['24.10.9', '24.11.0', true],
    ['v24.11.0', '24.11.0', false],
    ['24.21.0', '24.11.0', false],
    ['25.0.0', '24.11.0', false],
  ])('%s against %s: older %s', (version, minimum, older) => {
    expect(isOlder(version, minimum)).toBe(older);
  });
});
