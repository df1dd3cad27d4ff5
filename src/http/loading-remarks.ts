/**
 * What the loading stream says while nothing else happens (loading-stream.ts): llama-swap
 * types a light remark now and then so a client that shows reasoning text can tell a slow
 * load from a hung one. The idea is llama-swap's; these words are swapstate's own. Short, so
 * that typing one (at 75 characters a second) does not hold back a queue update for long.
 */
export const LOADING_REMARKS: readonly string[] = [
  'Moving gigabytes from disk to memory, one page at a time',
  'The weights are on their way',
  'Asking the GPU nicely',
  'Warming up the matrix multipliers',
  'Still here, still loading',
  'Counting parameters, lost count, starting over',
  'The model is stretching before its run',
  'Tensors are being unpacked',
  'Loading is the hard part; answering is quick',
  'Filling the KV cache with good intentions',
  'mmap is doing its best',
  'Good things come to those who wait',
  'Somewhere a fan just spun up',
  'Patience is also a hyperparameter',
  'Brewing the first token',
  'Assembling the attention heads',
  'The tokenizer is practising its vowels',
  'A few more layers to go',
  'Checking that every layer is where it should be',
  'Quantized bits falling into place',
  'Reading the model card one more time',
  'The swap is going as planned',
  'Almost certainly not stuck',
  'Teaching the embeddings their places',
  'Waiting on the health check to say yes',
  'This is what cold starts look like',
  'Taking the scenic route through VRAM',
  'Loading the model you asked for, not a smaller one',
  'Any moment now',
  'The first answer after a load is always the slowest',
];
