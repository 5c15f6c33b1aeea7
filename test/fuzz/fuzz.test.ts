/*
 * The fuzz suite (issue 7, "Malformed input"): every decoder of outside bytes meets random,
 * mutated and hostile input, and must give a valid value or its typed error, quickly and
 * without allocating what a length prefix claims.
 *
 * One test file on purpose: an ava worker spends about two seconds of CPU loading tsx, rxjs and
 * the codecs, and eight of them tripled the suite's time. Each target lives in its own
 * `*.fuzz.ts` and its titles start with the target, so one runs alone with
 * `npx ava test/fuzz/fuzz.test.ts --match 'metainfo:*'`.
 *
 * Cases per property: a few hundred from a fixed seed by default; `FUZZ_RUNS=50000
 * FUZZ_SEED=random` in `npm run fuzz`. A failure prints `FUZZ_SEED=… FUZZ_PATH=…` to replay it.
 */
import './bencode.fuzz.js';
import './metainfo.fuzz.js';
import './tracker.fuzz.js';
import './wire.fuzz.js';
import './extension-protocol.fuzz.js';
import './magnet-lsd.fuzz.js';
import './resume-file.fuzz.js';
import './history-log.fuzz.js';
