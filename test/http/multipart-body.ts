/**
 * multipart/form-data bodies for the extraction and rewriting tests: a builder, and an
 * "audio" file whose bytes hold a CRLF, a `--` line and a blank line, so framing that does
 * not go by the boundary would cut or change it.
 */

/** Builds a multipart body; a part with `filename` is a file. */
export function multipart(
  boundary: string,
  parts: Array<{ name: string; value: string | Buffer; filename?: string; type?: string }>,
): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"`;
    if (p.filename !== undefined) head += `; filename="${p.filename}"`;
    head += '\r\n';
    if (p.type) head += `Content-Type: ${p.type}\r\n`;
    chunks.push(Buffer.from(`${head}\r\n`), Buffer.isBuffer(p.value) ? p.value : Buffer.from(p.value), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

export const AUDIO = Buffer.concat([Buffer.from([0, 1, 2, 0xff, 0x0d, 0x0a]), Buffer.from('--not-a-boundary\r\n\r\n'), Buffer.alloc(200_000, 7)]);
