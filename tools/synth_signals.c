/* synth_signals.c - placeholder */
int main(void) { return 1; }
