import { describe, expect, it } from 'vitest';

import { dataName, MAX_DATA, parseDataLines } from '../src/data';
import { ValidationError } from '../src/types';

describe('the data field', () => {
  it('reads each form, skips blank lines and derives unique names from the last path segment', () => {
    const text = [
      '  https://archive.example.org/survey/cat.fits  ',
      '',
      'http://mirror.example.net/dr1/cat.fits?format=fits',
      '   ',
      'ivo://example.org/survey?dr1/images',
      's3://survey-bucket/dr1/deep/field%201.fits',
      'rucio:skao:raw.ms',
      'https://archive.example.org/'
    ].join('\n');
    expect(parseDataLines(text)).toEqual([
      {
        name: 'cat.fits',
        location: 'https://archive.example.org/survey/cat.fits'
      },
      {
        name: 'cat-2.fits',
        location: 'http://mirror.example.net/dr1/cat.fits?format=fits'
      },
      { name: 'images', ivoid: 'ivo://example.org/survey?dr1/images' },
      {
        name: 'field_1.fits',
        s3: { bucket: 'survey-bucket', key: 'dr1/deep/field%201.fits' }
      },
      { name: 'raw.ms', rucio: { scope: 'skao', name: 'raw.ms' } },
      { name: 'archive.example.org', location: 'https://archive.example.org/' }
    ]);
  });

  it('takes a name= prefix, and derived names avoid the given ones (also on later lines)', () => {
    const text =
      'https://a.example.org/x/cat.fits\nsurvey = https://b.example.org/y?id=7\ncat.fits=rucio:sc:x/y';
    expect(parseDataLines(text)).toEqual([
      { name: 'cat-2.fits', location: 'https://a.example.org/x/cat.fits' },
      { name: 'survey', location: 'https://b.example.org/y?id=7' },
      { name: 'cat.fits', rucio: { scope: 'sc', name: 'x/y' } }
    ]);
  });

  it('makes safe names from odd segments', () => {
    expect(dataName('..hidden file')).toBe('hidden_file');
    expect(dataName('')).toBe('data');
    expect(dataName('é')).toBe('_');
    expect(parseDataLines('ivo://example.org')).toEqual([
      { name: 'example.org', ivoid: 'ivo://example.org' }
    ]);
  });

  it('gives an empty list for an empty field', () => {
    expect(parseDataLines('')).toEqual([]);
    expect(parseDataLines(' \n\n  \n')).toEqual([]);
  });

  it.each([
    [
      'ftp://example.org/cat.fits',
      /^Data line 1: "ftp:\/\/example.org\/cat.fits" is not a data reference/
    ],
    [
      '\ncat.fits',
      /^Data line 2: "cat.fits" is not a data reference; write an https:\/\/ URL/
    ],
    [
      'https://a.example.org/x\nhttps://',
      /^Data line 2: "https:\/\/" is not a valid URL/
    ],
    ['ivo://', /^Data line 1: .* is not an IVOA identifier/],
    ['s3://bucket', /^Data line 1: .* needs a bucket and an object key/],
    ['s3:///key', /^Data line 1: .* needs a bucket and an object key/],
    ['rucio:scope', /^Data line 1: .* needs a scope and a name/],
    ['rucio::name', /^Data line 1: .* needs a scope and a name/],
    [
      '.x=https://a.example.org/x',
      /^Data line 1: the name ".x" must be 1 to 64 letters/
    ],
    ['x=', /^Data line 1: nothing after "x="/],
    [
      'a=https://a.example.org/1\n\na=https://a.example.org/2',
      /^Data line 3: the name "a" is used twice/
    ]
  ])('names the line of a bad entry %j', (text, pattern) => {
    expect(() => parseDataLines(text)).toThrow(ValidationError);
    expect(() => parseDataLines(text)).toThrow(pattern);
  });

  it(`takes at most ${MAX_DATA} entries`, () => {
    const lines = Array.from(
      { length: MAX_DATA + 1 },
      (_, i) => `https://a.example.org/${i}.fits`
    );
    expect(parseDataLines(lines.slice(1).join('\n'))).toHaveLength(MAX_DATA);
    expect(() => parseDataLines(lines.join('\n'))).toThrow(
      /^data: at most 20 entries \(got 21\)/
    );
  });
});
