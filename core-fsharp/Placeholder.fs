module HybridProtocol.Placeholder
let x = 1
