import { toNumber, toPlainItem, toPlainValue } from '../../lambdas/rohrpost/changes/attribute-values';
import { sameValue, updatedFields } from '../../lambdas/rohrpost/changes/diff';

describe('DynamoDB values as plain JSON', () => {
  test.each([
    [{ S: 'text' }, 'text'],
    [{ N: '42' }, 42],
    [{ N: '-1.5' }, -1.5],
    [{ BOOL: false }, false],
    [{ NULL: true }, null],
    [{ B: 'AQID' }, 'AQID'],
    [{ SS: ['a', 'b'] }, ['a', 'b']],
    [{ NS: ['1', '2.5'] }, [1, 2.5]],
    [{ BS: ['AQ==', 'Ag=='] }, ['AQ==', 'Ag==']],
    [{ L: [{ S: 'x' }, { N: '1' }, { L: [] }] }, ['x', 1, []]],
    [{ M: { a: { M: { b: { SS: ['c'] } } } } }, { a: { b: ['c'] } }],
  ])('%j → %j', (value, plain) => {
    expect(toPlainValue(value)).toEqual(plain);
  });

  test.each([
    ['0', 0],
    ['9007199254740991', 9007199254740991],
    ['0.1', 0.1],
    ['1.50', 1.5],
    ['1E+3', 1000],
    ['-0.000001', -0.000001],
    ['0.30000000000000004', 0.30000000000000004],
  ])('the number %s fits a double and is a JSON number', (text, number) => {
    expect(toNumber(text)).toBe(number);
  });

  test.each([
    '9007199254740993',
    '12345678901234567890123456789012345678',
    '0.1000000000000000000001',
    '1E+400',
  ])('the number %s would lose precision and stays a string', (text) => {
    expect(toNumber(text)).toBe(text);
  });

  test('an item becomes a plain object', () => {
    expect(toPlainItem({ id: { S: 'n1' }, tags: { SS: ['a'] }, n: { N: '3' } })).toEqual({
      id: 'n1',
      tags: ['a'],
      n: 3,
    });
  });

  test('an unknown type is an error, not a silent undefined', () => {
    expect(() => toPlainValue({} as never)).toThrow('Unknown DynamoDB value type');
  });
});

describe('updated fields', () => {
  test('added, removed and changed attributes, sorted', () => {
    const before = { id: { S: '1' }, title: { S: 'a' }, gone: { S: 'x' }, same: { N: '1' } };
    const after = { id: { S: '1' }, title: { S: 'b' }, added: { BOOL: true }, same: { N: '1' } };
    expect(updatedFields(before, after)).toEqual(['added', 'gone', 'title']);
  });

  test.each([
    [{ N: '1.50' }, { N: '1.5' }, true],
    [{ N: '12345678901234567890' }, { N: '12345678901234567891' }, false],
    [{ SS: ['a', 'b'] }, { SS: ['b', 'a'] }, true],
    [{ NS: ['1', '2.0'] }, { NS: ['2', '1'] }, true],
    [{ SS: ['a'] }, { SS: ['a', 'b'] }, false],
    [{ L: [{ S: 'a' }, { S: 'b' }] }, { L: [{ S: 'b' }, { S: 'a' }] }, false],
    [{ M: { x: { N: '1' } } }, { M: { x: { N: '1' } } }, true],
    [{ M: { x: { N: '1' } } }, { M: { x: { N: '2' } } }, false],
    [{ S: '1' }, { N: '1' }, false],
    [{ NULL: true }, { NULL: true }, true],
  ])('%j and %j are the same: %s', (a, b, same) => {
    expect(sameValue(a, b)).toBe(same);
    expect(sameValue(b, a)).toBe(same);
  });
});
