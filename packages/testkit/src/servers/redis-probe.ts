import net from 'node:net';

function command(...parts: string[]): string {
  return `*${parts.length}\r\n${parts.map((part) => `$${Buffer.byteLength(part)}\r\n${part}\r\n`).join('')}`;
}

/**
 * One readiness probe: sends PING (after AUTH when a password is set) over a raw RESP socket and
 * resolves true on PONG, false on anything else (refused, error reply, no answer within `timeoutMs`).
 */
export function pingRedis(port: number, password: string | undefined, timeoutMs = 500): Promise<boolean> {
  const expected = password === undefined ? '+PONG\r\n' : '+OK\r\n+PONG\r\n';
  const request = (password === undefined ? '' : command('AUTH', password)) + command('PING');
  return new Promise((resolve) => {
    let reply = '';
    const socket = net.connect({ host: '127.0.0.1', port });
    const finish = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.setEncoding('utf8');
    socket.once('connect', () => socket.write(request));
    socket.on('data', (chunk: string) => {
      reply += chunk;
      if (reply === expected) finish(true);
      else if (!expected.startsWith(reply)) finish(false);
    });
    socket.once('error', () => finish(false));
    socket.once('close', () => finish(false));
  });
}
