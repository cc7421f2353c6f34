/**
 * `node --import tsx tools/kvcache/absorbed-check.ts [-- --rows 3] [-- --layers 12] [-- --tokens 577] [-- --masked 100]`
 *
 * Does the absorbed cross-attention (absorbed-attention.ts) compute what the shipped forms compute? Same random E,
 * Wk, bk, Wv, bv and query; K and V made explicitly for the shipped fp32 and int8 forms (absorbed-numerics.ts).
 * Prints max |Δ| of each form's output against the shipped fp32 output, absolute and relative to max |out|.
 */
import { parseArgs } from 'node:util';
import { compareAbsorbed } from './absorbed-numerics.ts';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '3' },
    layers: { type: 'string', default: '12' },
    tokens: { type: 'string', default: '577' },
    masked: { type: 'string', default: '100' },
  },
});
const options = { heads: 12, headDim: 64, rows: Number(args.rows), layers: Number(args.layers), tokens: Number(args.tokens), masked: Number(args.masked) };
const result = await compareAbsorbed(options);
console.log(`${options.rows} rows, ${options.layers} chained layers, ${options.tokens} tokens (${options.masked} masked in odd rows); max |out| of shipped fp32 = ${result.magnitude.toFixed(4)}`);
console.log('form | max |Δ| vs shipped fp32 | relative to max |out|');
for (const [form, d] of [['absorbed (fp32)', result.absorbed], ['absorbed-kq (fp32)', result.absorbedKq], ['int8 (shipped)', result.int8], ['absorbed-int8', result.absorbedInt8], ['absorbed-int8w', result.absorbedInt8w], ['absorbed-int8w-kq', result.absorbedInt8wKq]] as const) {
  console.log(`${form} | ${d.maxAbs.toExponential(2)} | ${d.relative.toExponential(2)}`);
}
