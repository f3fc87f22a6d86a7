export { TcpLayer, type ListenHandlers, type ConnectOptions, type TcpSocket } from './tcp-layer.js';
export { Connection, type ConnectionHandlers, type ConnectionStats, type TcpError } from './connection.js';
export { TimeWaitSock } from './time-wait.js';
export { TcpState, tcpStateName, tcpStateSsName } from './states.js';
export { DEFAULT_TCP_PARAMS, type TcpParams } from './params.js';
export { MessageFramer } from './message-framer.js';
