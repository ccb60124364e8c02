export {
  type FilterCapGrant,
  type FilterCounters,
  type FilterDstPorts,
  type FilterOptions,
  type FilterRuleInput,
  PacketFilter,
  parseIpSet,
  type Verdict,
} from './filter.js';
export * from './packet.js';
export {
  buildTsmpPacket,
  buildTsmpPing,
  buildTsmpReject,
  handleTsmp,
  type TsmpCounters,
  type TsmpResult,
} from './tsmp.js';
