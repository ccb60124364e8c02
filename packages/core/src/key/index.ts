export {
  ChallengePublic,
  clampPrivateKey,
  DiscoPrivate,
  DiscoPublic,
  KEY_SIZE,
  MachinePrivate,
  MachinePublic,
  NodePrivate,
  NodePublic,
} from './keys.js';
