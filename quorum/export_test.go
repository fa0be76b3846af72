package quorum

// PlantFollowerWrites plants a fault in c on purpose: a deposed leader
// goes on writing, without VerifyLeader. The simulator must catch it.
func PlantFollowerWrites(c *Config) { c.planted = mutantFollowerWrites }
