/** The remote testbed's limiter: the generic one in common/ (the sandbox uses it too). */
export { firstFailure, mapSettled } from '../../common/concurrency.js';
