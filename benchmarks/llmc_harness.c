/*
Training steps of llm.c's CPU GPT-2 (train_gpt2.c) on a checkpoint and a batch we give it, for
benchmarks/llmc.py. llm.c is not part of this repository: this file is compiled against a
checkout of it, found with -I LLMC_DIR, the way llm.c's own test_gpt2.c includes the trainer
(TESTING leaves out train_gpt2.c's main).

    llmc_harness CHECKPOINT TOKENS B T WARMUP STEPS LR BETA1 BETA2 EPS WEIGHT_DECAY

TOKENS holds B*T int32 inputs followed by B*T int32 targets. Each step is llm.c's own sequence
(forward with targets, zero_grad, backward, AdamW update); the first WARMUP steps are untimed
(the first one allocates the activations and touches every page). For every step it prints

    step <i> loss <loss before the update> ms <wall milliseconds, -1 when untimed>

then the median of the timed steps and the process's peak resident memory (VmHWM). Steps are
timed with clock_gettime(CLOCK_MONOTONIC) around the four calls only, so the process's start,
reading the checkpoint and the untimed steps are not in the figures.
*/
#define TESTING
#include "train_gpt2.c"

static double elapsed_ms(struct timespec a, struct timespec b) {
    return (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
}

static int compare_doubles(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

static double peak_rss_mb(void) {
    FILE* f = fopen("/proc/self/status", "r");
    char line[256];
    double mb = -1.0;
    if (f == NULL) { return mb; }
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmHWM:", 6) == 0) { mb = atof(line + 6) / 1024.0; }
    }
    fclose(f);
    return mb;
}

int main(int argc, char** argv) {
    if (argc != 12) {
        fprintf(stderr, "usage: %s CHECKPOINT TOKENS B T WARMUP STEPS LR BETA1 BETA2 EPS "
                        "WEIGHT_DECAY\n", argv[0]);
        return 2;
    }
    int B = atoi(argv[3]), T = atoi(argv[4]), warmup = atoi(argv[5]), steps = atoi(argv[6]);
    float lr = atof(argv[7]), beta1 = atof(argv[8]), beta2 = atof(argv[9]);
    float eps = atof(argv[10]), weight_decay = atof(argv[11]);
    if (B <= 0 || T <= 0 || warmup < 0 || steps <= 0) {
        fprintf(stderr, "B, T and STEPS must be positive and WARMUP not negative\n");
        return 2;
    }

    GPT2 model;
    gpt2_build_from_checkpoint(&model, argv[1]);
    if (T > model.config.max_seq_len) {
        fprintf(stderr, "T = %d is longer than the checkpoint's context %d\n", T,
                model.config.max_seq_len);
        return 2;
    }
    size_t n = (size_t)B * T;
    int* tokens = (int*)mallocCheck(2 * n * sizeof(int));
    FILE* f = fopenCheck(argv[2], "rb");
    freadCheck(tokens, sizeof(int), 2 * n, f);
    fcloseCheck(f);

    double* times = (double*)mallocCheck(steps * sizeof(double));
    for (int step = 0; step < warmup + steps; step++) {
        struct timespec start, end;
        clock_gettime(CLOCK_MONOTONIC, &start);
        gpt2_forward(&model, tokens, tokens + n, B, T);
        gpt2_zero_grad(&model);
        gpt2_backward(&model);
        gpt2_update(&model, lr, beta1, beta2, eps, weight_decay, step + 1);
        clock_gettime(CLOCK_MONOTONIC, &end);
        double ms = step < warmup ? -1.0 : elapsed_ms(start, end);
        if (step >= warmup) { times[step - warmup] = ms; }
        printf("step %d loss %.9g ms %.6f\n", step, model.mean_loss, ms);
        fflush(stdout);
    }
    qsort(times, steps, sizeof(double), compare_doubles);
    double median = steps % 2 ? times[steps / 2]
                              : 0.5 * (times[steps / 2 - 1] + times[steps / 2]);
    printf("median_ms %.6f\n", median);
    printf("peak_rss_mb %.1f\n", peak_rss_mb());
    free(times);
    free(tokens);
    gpt2_free(&model);
    return 0;
}
