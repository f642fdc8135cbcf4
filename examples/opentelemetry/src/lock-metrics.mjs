// Lock events as OpenTelemetry metrics. Depends on @opentelemetry/api only: the application
// picks the SDK and exporter (OTLP, Prometheus, ...) and sets the global MeterProvider.
//
//   dlock.lock.wait.duration     histogram, s   every acquisition attempt, by outcome
//                                                (acquired, busy, timeout, aborted, error)
//   dlock.lock.hold.duration     histogram, s   how long locks were held, by outcome (released, lost)
//   dlock.lock.acquisitions      counter
//   dlock.lock.losses            counter        a lease ran out or was taken away while held
//   dlock.lock.renewals          counter
//   dlock.lock.renew_failures    counter        by error.type; retried until the lease ends
//   dlock.lock.held              updown counter locks held right now
//   dlock.lock.waiting           updown counter callers waiting right now
//
// Attributes: dlock.backend, and dlock.key_group when `keyGroup` is given. Lock keys themselves
// are not attributes: every distinct key would become its own time series.
import { metrics } from '@opentelemetry/api';

const seconds = (ms) => ms / 1000;

/** Buckets from 1 ms to 30 s (the SDK's defaults are meant for milliseconds). */
const durationBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * Records the events of a dlock `LockService` as metrics. Returns a function that stops.
 *
 * @param service a LockService (anything with `.events.on(type, listener)`)
 * @param options.meter the Meter to use (default: the global provider's meter "dlock")
 * @param options.keyGroup maps a key to a low-cardinality label, e.g. `(key) => key.split(':')[0]`
 */
export function instrumentLockService(service, { meter = metrics.getMeter('dlock'), keyGroup } = {}) {
  const wait = meter.createHistogram('dlock.lock.wait.duration', {
    description: 'Time from asking for a lock to getting it or giving up',
    unit: 's',
    advice: { explicitBucketBoundaries: durationBuckets },
  });
  const hold = meter.createHistogram('dlock.lock.hold.duration', {
    description: 'Time a lock was held, until released or lost',
    unit: 's',
    advice: { explicitBucketBoundaries: durationBuckets },
  });
  const acquisitions = meter.createCounter('dlock.lock.acquisitions', { description: 'Locks acquired', unit: '{lock}' });
  const losses = meter.createCounter('dlock.lock.losses', { description: 'Locks lost while held', unit: '{lock}' });
  const renewals = meter.createCounter('dlock.lock.renewals', { description: 'Successful lease renewals', unit: '{renewal}' });
  const renewFailures = meter.createCounter('dlock.lock.renew_failures', {
    description: 'Renewals that failed (retried until the lease ends)',
    unit: '{renewal}',
  });
  const held = meter.createUpDownCounter('dlock.lock.held', { description: 'Locks held now', unit: '{lock}' });
  const waiting = meter.createUpDownCounter('dlock.lock.waiting', { description: 'Callers waiting for a lock now', unit: '{caller}' });

  const attrs = (event, extra) => ({
    'dlock.backend': event.backend,
    ...(keyGroup ? { 'dlock.key_group': keyGroup(event.key) } : {}),
    ...extra,
  });

  const stops = [
    service.events.on('wait-started', (e) => waiting.add(1, attrs(e))),
    service.events.on('wait-ended', (e) => {
      waiting.add(-1, attrs(e));
      wait.record(seconds(e.waitedMs), attrs(e, { 'dlock.outcome': e.outcome }));
    }),
    service.events.on('acquired', (e) => {
      acquisitions.add(1, attrs(e));
      held.add(1, attrs(e));
    }),
    service.events.on('released', (e) => {
      held.add(-1, attrs(e));
      hold.record(seconds(e.heldMs), attrs(e, { 'dlock.outcome': 'released' }));
    }),
    service.events.on('lost', (e) => {
      held.add(-1, attrs(e));
      losses.add(1, attrs(e));
      hold.record(seconds(e.heldMs), attrs(e, { 'dlock.outcome': 'lost' }));
    }),
    service.events.on('renewed', (e) => renewals.add(1, attrs(e))),
    service.events.on('renew-failed', (e) => renewFailures.add(1, attrs(e, { 'error.type': e.error.name }))),
  ];
  return () => stops.forEach((stop) => stop());
}
