/**
 * The operator's own outbound connections on a Project's behalf (Git, S3): where they may go,
 * and clients that keep to it.
 *
 * @module
 */
export { type Destination, type DestinationPolicy, type DestinationPolicyInput, destinationPolicy, parseAllowed, refusalOf } from './destinations.ts';
export { DestinationRefused, type Outbound, outbound, type OutboundOptions, refusedIn, type Resolve } from './connect.ts';
