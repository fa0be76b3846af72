package pairtest

// RunTo is Run with Logf's lines going to log.
var RunTo = run
