import type { InspectInvocation } from './args.js';
import { openBackend } from './backend.js';
import { closeLock } from './close.js';
import { ExitCode } from './exit-codes.js';
import type { CliIo } from './io.js';

/** `dlock inspect`: prints the holder, remaining TTL and fencing token of a key (or that it is free). */
export async function inspectCommand(invocation: InspectInvocation, io: CliIo): Promise<number> {
  const lock = await openBackend(invocation.backend, invocation);
  try {
    const info = await lock.inspect(invocation.key);
    if (invocation.json) {
      io.out(
        JSON.stringify(
          info === null
            ? { key: invocation.key, held: false }
            : { key: info.key, held: true, holder: info.holder, ttlRemaining: info.ttlRemaining, fencingToken: String(info.fencingToken) },
        ),
      );
    } else if (info === null) {
      io.out(`lock "${invocation.key}" is free`);
    } else {
      io.out(`lock "${info.key}" is held`);
      io.out(`  holder         ${info.holder}`);
      io.out(`  ttl remaining  ${info.ttlRemaining < 0 ? 'unknown' : `${info.ttlRemaining} ms`}`);
      io.out(`  fencing token  ${info.fencingToken}`);
    }
    return ExitCode.OK;
  } finally {
    await closeLock(lock, io);
  }
}
